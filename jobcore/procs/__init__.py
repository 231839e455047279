"""Facts about processes: identity (pid + start time), the process tree, cgroups, forking."""
