# Mug-STAN-B/16 retrieval on msrvtt.
_base_ = ['./msrvtt.py']
model = dict(backbone=dict(arch='ViT-B-16'), text_arch='ViT-B-16')
