# STAN-self-B/32 + TVTSv2 recipe (VideoTextRetriever, CLIPSTAN K=4, zero-init temporal values, temporal attention with [CLS], no tube masking on B/32, text layers 1-9 frozen), 12 frames, global batch 128 (8 GPUs x 16), MSR-VTT 9k / 1k-A; no paper row (TVTSv2 reports zero-shot only).
_base_ = ['./msrvtt.py']
model = dict(
    text_frozen_layers=9,  # [V] §3.2, Tab. 8: the first three quarters of the 12 text layers
    backbone=dict(
        temporal_init='zero_qkv',  # [V] App. C, Tab. 6: zero-init temporal attention (values only, see TemporalAttention)
        temporal_cls=True,  # [V] App. C: the [CLS] takes part in temporal attention too
        # [V] §4.1: tube masking (§3.3) drops 50% of patches on B/16 and 70% on H/14, none on
        # B/32; for a B/16 run add --cfg-options model.backbone.tube_mask_ratio=0.5
        tube_mask_ratio=0.0))
