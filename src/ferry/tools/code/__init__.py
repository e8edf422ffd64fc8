"""code_interpreter: Python sessions (Jupyter kernels) in a sandbox, one per thread."""
