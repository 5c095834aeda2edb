"""Running the CUDA backend without a GPU: gpubp's kernels compiled for the CPU (``host_kernels``)."""
