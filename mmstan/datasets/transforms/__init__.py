from .text import OpenCLIPTokenize

__all__ = ['OpenCLIPTokenize']
