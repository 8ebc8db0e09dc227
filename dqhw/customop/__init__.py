"""dqhw node types (custom-op domain dqhw.customop): exact Python execution of the layers dqhw implements in RTL."""
