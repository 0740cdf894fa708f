"""What only the notebooks need: one module per notebook with its checks, panels and figures."""
