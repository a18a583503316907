# STAN-self-B/32 (VideoTextRetriever, CLIPSTAN K=4, mean similarity), 64 frames, global batch 128 (16 GPUs x 8), DiDeMo (paragraph queries); paper [S] Table 2: 46.2 / 70.4 / 80.0 / 2.0 (t2v R@1/5/10/MdR).
_base_ = [
    '../_base_/models/stan_retrieval_b32.py', '../_base_/datasets/didemo.py',
    '../_base_/schedules/adamw_cosine_retrieval.py'
]
model = dict(backbone=dict(num_frames=64, grad_checkpointing=True))
