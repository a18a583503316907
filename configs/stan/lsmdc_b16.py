# STAN-B/16 retrieval on lsmdc.
_base_ = ['./lsmdc.py']
model = dict(backbone=dict(arch='ViT-B-16'), text_arch='ViT-B-16')
