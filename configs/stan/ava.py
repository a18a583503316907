# STAN-self-B/16 AVA detector (FastRCNN, CLIPSTAN K=4 feature map, RoIAlign), 8 frames x interval 37 at 256 px, global batch 128, AVA v2.2, from OpenAI CLIP; no paper row (the papers start AVA from a K400-trained model: ava_k400init.py).
_base_ = [
    '../_base_/models/stan_ava_b16.py', '../_base_/datasets/ava.py',
    '../_base_/schedules/adamw_cosine_ava.py'
]
