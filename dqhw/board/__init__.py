"""What goes to the board and its stand-ins: the board package (Vivado script + PYNQ driver), the
simulated PYNQ the driver is tested against, and the dry run of the Vivado script."""
