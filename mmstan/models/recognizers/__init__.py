from .clip_recognizer import CLIPRecognizer

__all__ = ['CLIPRecognizer']
