# STAN-B/16 retrieval on msvd.
_base_ = ['./msvd.py']
model = dict(backbone=dict(arch='ViT-B-16'), text_arch='ViT-B-16')
