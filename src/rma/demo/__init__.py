"""The embedded demo and the realistic return mix it (and the benchmarks) feed the system."""
