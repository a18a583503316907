# A tiny random-initialised open_clip model for CPU tests and the demo
# (32x32 frames, patch 8, width 64, 2 layers).
tiny_clip_arch = dict(
    embed_dim=64,
    vision_cfg=dict(image_size=32, patch_size=8, width=64, layers=2, head_width=32, mlp_ratio=2.0),
    text_cfg=dict(context_length=32, vocab_size=49408, width=64, heads=2, layers=2))
