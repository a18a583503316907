# STAN-self-B/32 + TVTSv2 recipe (VideoTextRetriever, CLIPSTAN K=4, zero-qkv temporal attention with [CLS], tube mask 0.5, text layers 1-9 frozen), 12 frames, global batch 128 (8 GPUs x 16), MSR-VTT 9k / 1k-A; no paper row (TVTSv2 reports zero-shot only and uses ratio 0.5 for B/16, 0 for B/32).
_base_ = ['./msrvtt.py']
model = dict(
    text_frozen_layers=9,  # [V] §3.2, Tab. 8: the first three quarters of the 12 text layers
    backbone=dict(
        temporal_init='zero_qkv',  # [V] App. C, Tab. 6: temporal attention weights start at zero
        temporal_cls=True,  # [V] App. C: the [CLS] takes part in temporal attention too
        tube_mask_ratio=0.5))  # [V] §3.3: same positions dropped in every frame, training only
