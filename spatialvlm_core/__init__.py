"""SpatialVLM toolkit data + training core: metric-3D spatial QA synthesis and the SpatialVLM tool."""

__version__ = "0.1.0"
