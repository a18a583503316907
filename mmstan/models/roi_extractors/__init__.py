"""RoI feature extractors of the AVA detector."""
from .torchvision_roi_extractor import TorchvisionRoIAlign, TorchvisionRoIExtractor3D

__all__ = ['TorchvisionRoIAlign', 'TorchvisionRoIExtractor3D']
