"""hwnas_lab: a hands-on course on hardware-aware neural architecture search.

One search space (``space``), one encoding (``Arch``), one latency table, shared by
every notebook. See README.md for the course map.
"""

from .space import Arch, LayerSpec, SearchSpace, get_space

__all__ = ["Arch", "LayerSpec", "SearchSpace", "get_space"]
__version__ = "0.1.0"
