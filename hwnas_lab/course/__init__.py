"""What only the notebooks need: each notebook's checks, panels and figures, one module each."""
