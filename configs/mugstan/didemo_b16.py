# Mug-STAN-B/16 retrieval on DiDeMo.
_base_ = ['./didemo.py']
model = dict(backbone=dict(arch='ViT-B-16'), text_arch='ViT-B-16')
