"""What only the notebooks need: each notebook's checks, figures and panels in its own module."""
