# Demo: the same tiny random-init CLIP with a 2-layer STAN branch (temporal attention)
# on the synthetic motion set. Only the backbone differs from the mean-pooling demo.
_base_ = ['./synthetic_motion_meanpool.py']

model = dict(
    backbone=dict(
        _delete_=True, type='CLIPSTAN', arch={{_base_.tiny_clip_arch}}, input_resolution=32,
        num_frames=8, num_layers=2, temporal_module='attention', drop_path_rate=0.0,
        # a random-init tiny CLIP needs a stronger initial frame-order signal than 0.02
        temporal_pos_std=1.0))
