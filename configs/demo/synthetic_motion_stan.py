# Demo: STAN (Recognizer3D, CLIPSTAN K=2 temporal attention, tiny random-init CLIP), 8 frames, batch 32, synthetic motion set; no paper row.
_base_ = ['./synthetic_motion_meanpool.py']

model = dict(
    backbone=dict(
        _delete_=True, type='CLIPSTAN', arch={{_base_.tiny_clip_arch}}, input_resolution=32,
        num_frames=8, num_layers=2, temporal_module='attention', drop_path_rate=0.0,
        # a random-init tiny CLIP needs a stronger initial frame-order signal than 0.02
        temporal_pos_std=1.0))
