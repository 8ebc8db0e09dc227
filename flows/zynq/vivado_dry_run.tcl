# Stand-ins for the Vivado commands build_bitstream.tcl uses: a dry run of the script in plain Tcl
# (tclsh or Python's tkinter), without Vivado. Used by dqhw.board.pynq_sim.vivado.
#
# Every call is recorded (::dqhw_dry::log, written as JSON lines by ::dqhw_dry::finish). The stand-ins
# reject what Vivado would reject before any implementation: a file that does not exist, get_files of
# a file that is not in the project, a pin of a cell that was never created, a property set on
# nothing, a report or timing query without an open implemented design. What the block design
# contains (widths, connections) is judged afterwards, in Python. Timing comes from ::dqhw_dry::cfg
# (wns, whs, tns, ths, impl_status), so both verdicts of the script's slack check can be exercised.
# Nothing is written to disk except the log: `file copy`, `file mkdir`, reports and bitstreams are
# recorded only.

namespace eval ::dqhw_dry {
    variable log {}
    variable files [dict create]      ;# path -> file_type
    variable generated [dict create]  ;# paths Vivado itself would create during the run
    variable cells [dict create]      ;# name -> vlnv or module
    variable project_dir ""
    variable project_name ""
    variable bd_name ""
    variable impl_done 0
    variable run_open 0
    variable cfg
    array set cfg {wns 1.0 whs 0.05 tns 0.0 ths 0.0 impl_status {route_design Complete!}}
}

rename file ::dqhw_dry::real_file
rename puts ::dqhw_dry::real_puts

proc ::dqhw_dry::rec {args} {
    variable log
    lappend log $args
}

proc ::dqhw_dry::json_str {s} {
    return "\"[string map [list \\ \\\\ \" \\\" \n \\n \r \\r \t \\t] $s]\""
}

proc ::dqhw_dry::finish {path status message} {
    variable log
    set f [open $path w]
    foreach entry $log {
        set items {}
        foreach a $entry { lappend items [json_str $a] }
        ::dqhw_dry::real_puts $f "\[[join $items ,]\]"
    }
    ::dqhw_dry::real_puts $f "\[[json_str __result__],[json_str $status],[json_str $message]\]"
    close $f
}

proc ::dqhw_dry::exists {path} {
    variable generated
    return [expr {[::dqhw_dry::real_file exists $path] || [dict exists $generated $path]}]
}

proc ::dqhw_dry::positional {argv {with_value {}}} {
    # the non-option arguments of a Vivado command (options in with_value take a value)
    set out {}
    for {set i 0} {$i < [llength $argv]} {incr i} {
        set a [lindex $argv $i]
        if {[string index $a 0] eq "-"} {
            if {$a in $with_value} { incr i }
            continue
        }
        lappend out $a
    }
    return $out
}

proc ::dqhw_dry::option {argv name {default ""}} {
    set i [lsearch -exact $argv $name]
    if {$i < 0} { return $default }
    return [lindex $argv [expr {$i + 1}]]
}

proc ::dqhw_dry::need_open_run {what} {
    if {!$::dqhw_dry::run_open} { error "$what: no open implemented design (open_run impl_1 first)" }
}

proc file {sub args} {
    switch -- $sub {
        copy {
            set paths [::dqhw_dry::positional $args]
            set src [lindex $paths 0]
            if {![::dqhw_dry::exists $src]} { error "file copy: $src does not exist" }
            ::dqhw_dry::rec file copy {*}$paths
            dict set ::dqhw_dry::generated [lindex $paths end] 1
            return
        }
        mkdir - delete - rename - link - attributes {
            ::dqhw_dry::rec file $sub {*}$args
            return
        }
        default { return [::dqhw_dry::real_file $sub {*}$args] }
    }
}

proc puts {args} {
    # messages to stdout are recorded; writes to an open channel go through
    if {[llength $args] == 1 || ([llength $args] == 2 && [lindex $args 0] eq "-nonewline")} {
        ::dqhw_dry::rec puts [lindex $args end]
        return
    }
    return [::dqhw_dry::real_puts {*}$args]
}

proc create_project {args} {
    set pos [::dqhw_dry::positional $args {-part}]
    set ::dqhw_dry::project_name [lindex $pos 0]
    set ::dqhw_dry::project_dir [lindex $pos 1]
    ::dqhw_dry::rec create_project {*}$args
    return project
}
proc current_project {args} { return project }
proc current_fileset {args} { return fileset:sources_1 }
proc get_runs {name} { return run:$name }

proc set_property {args} {
    if {[lindex $args 0] eq "-dict"} {
        if {[llength $args] != 3} { error "set_property -dict: expected -dict LIST OBJECT, got $args" }
        set d [lindex $args 1]
        set obj [lindex $args 2]
        if {[llength $d] % 2} { error "set_property -dict: the list has an odd number of elements: $d" }
    } else {
        if {[llength $args] != 3} { error "set_property: expected NAME VALUE OBJECT, got $args" }
        set d [list [lindex $args 0] [lindex $args 1]]
        set obj [lindex $args 2]
    }
    if {$obj eq ""} { error "set_property: no object given (ERROR: \[Common 17-55\] 'set_property' expects at least one object)" }
    foreach {k v} $d {
        if {$k eq "file_type" && [dict exists $::dqhw_dry::files $obj]} { dict set ::dqhw_dry::files $obj $v }
        ::dqhw_dry::rec set_property $obj $k $v
    }
}

proc add_files {args} {
    set paths [::dqhw_dry::positional $args {-fileset -of_objects}]
    if {![llength $paths]} { error "add_files: no file given" }
    foreach p $paths {
        if {![::dqhw_dry::exists $p]} { error "add_files: \[filemgmt 56-12\] File '$p' does not exist" }
        if {[dict exists $::dqhw_dry::files $p]} { error "add_files: $p is already in the project" }
        dict set ::dqhw_dry::files $p ""
        ::dqhw_dry::rec add_files $p
    }
}

proc get_files {args} {
    set pat [lindex [::dqhw_dry::positional $args {-of_objects -filter}] 0]
    set hits {}
    foreach p [dict keys $::dqhw_dry::files] {
        if {$p eq $pat || [::dqhw_dry::real_file tail $p] eq $pat} { lappend hits $p }
    }
    if {![llength $hits]} { error "get_files: no file '$pat' in the project" }
    return $hits
}

proc update_compile_order {args} { ::dqhw_dry::rec update_compile_order {*}$args }

proc create_bd_design {name} {
    set ::dqhw_dry::bd_name $name
    set bd "$::dqhw_dry::project_dir/$::dqhw_dry::project_name.srcs/sources_1/bd/$name/$name.bd"
    dict set ::dqhw_dry::generated $bd 1
    dict set ::dqhw_dry::files $bd "Block Designs"
    ::dqhw_dry::rec create_bd_design $name
}

proc create_bd_cell {args} {
    set type [::dqhw_dry::option $args -type]
    set name [lindex [::dqhw_dry::positional $args {-type -vlnv -reference}] 0]
    if {$name eq ""} { error "create_bd_cell: no cell name" }
    if {[dict exists $::dqhw_dry::cells $name]} { error "create_bd_cell: a cell named $name exists already" }
    if {$type eq "module"} {
        set what [::dqhw_dry::option $args -reference]
    } else {
        set what [::dqhw_dry::option $args -vlnv]
    }
    dict set ::dqhw_dry::cells $name $what
    ::dqhw_dry::rec create_bd_cell $type $what $name
    return "/$name"
}

proc ::dqhw_dry::pin {cmd path} {
    set p [string trimleft $path /]
    set cell [lindex [split $p /] 0]
    if {![dict exists $::dqhw_dry::cells $cell] || [llength [split $p /]] != 2} {
        error "$cmd: no pin '$path' (cells: [lsort [dict keys $::dqhw_dry::cells]])"
    }
    return "/$p"
}
proc get_bd_pins {path} { return [::dqhw_dry::pin get_bd_pins $path] }
proc get_bd_intf_pins {path} { return [::dqhw_dry::pin get_bd_intf_pins $path] }
proc get_bd_cells {path} {
    set p [string trimleft $path /]
    if {![dict exists $::dqhw_dry::cells $p]} { error "get_bd_cells: no cell '$path'" }
    return "/$p"
}

proc connect_bd_intf_net {args} {
    set pos [::dqhw_dry::positional $args]
    if {[llength $pos] != 2 || "" in $pos} { error "connect_bd_intf_net: expected two interface pins, got '$args'" }
    ::dqhw_dry::rec connect_bd_intf_net {*}$pos
}
proc connect_bd_net {args} {
    set pos [::dqhw_dry::positional $args]
    if {[llength $pos] < 2 || "" in $pos} { error "connect_bd_net: expected pins, got '$args'" }
    ::dqhw_dry::rec connect_bd_net {*}$pos
}
proc apply_bd_automation {args} {
    set obj [lindex [::dqhw_dry::positional $args {-rule -config}] 0]
    if {$obj eq ""} { error "apply_bd_automation: no object" }
    ::dqhw_dry::rec apply_bd_automation [::dqhw_dry::option $args -rule] [::dqhw_dry::option $args -config] $obj
}
proc validate_bd_design {args} { ::dqhw_dry::rec validate_bd_design }
proc save_bd_design {args} { ::dqhw_dry::rec save_bd_design }

proc make_wrapper {args} {
    set bd [::dqhw_dry::option $args -files]
    if {$bd eq ""} { error "make_wrapper: no -files" }
    set n $::dqhw_dry::bd_name
    set gen "$::dqhw_dry::project_dir/$::dqhw_dry::project_name.gen/sources_1/bd/$n"
    dict set ::dqhw_dry::generated "$gen/hdl/${n}_wrapper.v" 1
    ::dqhw_dry::rec make_wrapper $bd
}

proc launch_runs {args} {
    set run [lindex [::dqhw_dry::positional $args {-jobs -to_step -next_step}] 0]
    ::dqhw_dry::rec launch_runs $run [::dqhw_dry::option $args -to_step]
    if {$run eq "impl_1"} {
        set ::dqhw_dry::impl_done 1
        # the hardware handoff is generated with the block design's output products
        set n $::dqhw_dry::bd_name
        set gen "$::dqhw_dry::project_dir/$::dqhw_dry::project_name.gen/sources_1/bd/$n"
        dict set ::dqhw_dry::generated "$gen/hw_handoff/$n.hwh" 1
    }
}
proc wait_on_run {args} { ::dqhw_dry::rec wait_on_run {*}$args }

proc open_run {run} {
    if {$run ne "impl_1" || !$::dqhw_dry::impl_done} { error "open_run: run $run was not implemented" }
    set ::dqhw_dry::run_open 1
    ::dqhw_dry::rec open_run $run
}

proc get_timing_paths {args} {
    ::dqhw_dry::need_open_run get_timing_paths
    set type [::dqhw_dry::option $args -delay_type max]
    if {$type ni {max min}} { error "get_timing_paths: -delay_type $type not supported by the dry run" }
    ::dqhw_dry::rec get_timing_paths $type
    return path:$type
}

proc get_property {name obj} {
    switch -glob -- "$obj $name" {
        "run:impl_1 STATUS" { return $::dqhw_dry::cfg(impl_status) }
        "run:impl_1 PROGRESS" { return 100% }
        "run:impl_1 STATS.WNS" { return $::dqhw_dry::cfg(wns) }
        "run:impl_1 STATS.TNS" { return $::dqhw_dry::cfg(tns) }
        "run:impl_1 STATS.WHS" { return $::dqhw_dry::cfg(whs) }
        "run:impl_1 STATS.THS" { return $::dqhw_dry::cfg(ths) }
        "path:max SLACK" { return $::dqhw_dry::cfg(wns) }
        "path:min SLACK" { return $::dqhw_dry::cfg(whs) }
    }
    error "get_property: the dry run has no value for $name of '$obj'"
}

proc ::dqhw_dry::report {cmd argv} {
    ::dqhw_dry::need_open_run $cmd
    set f [::dqhw_dry::option $argv -file]
    if {$f eq ""} { error "$cmd: the dry run expects -file" }
    ::dqhw_dry::rec $cmd $f
}
proc report_utilization {args} { ::dqhw_dry::report report_utilization $args }
proc report_timing_summary {args} { ::dqhw_dry::report report_timing_summary $args }

proc write_bitstream {args} {
    ::dqhw_dry::need_open_run write_bitstream
    set path [lindex [::dqhw_dry::positional $args] 0]
    dict set ::dqhw_dry::generated $path 1
    ::dqhw_dry::rec write_bitstream $path
}
