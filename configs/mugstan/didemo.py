# Mug-STAN-B/32 (VideoTextRetriever, CLIPSTAN K=4, Mug head), 64 frames, global batch 128 (16 GPUs x 8), DiDeMo (paragraph queries); paper [M] Table II (values not in the paper text we have).
_base_ = [
    '../_base_/models/mugstan_retrieval_b32.py', '../_base_/datasets/didemo.py',
    '../_base_/schedules/adamw_cosine_retrieval.py'
]
model = dict(backbone=dict(num_frames=64, grad_checkpointing=True))
