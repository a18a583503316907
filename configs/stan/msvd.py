# STAN-self-B/32 (VideoTextRetriever, CLIPSTAN K=4, mean similarity), 12 frames, global batch 128 (8 GPUs x 16), MSVD (multi-caption test); paper [S] Table 9: 46.7 / 76.1 / 86.0 / 2.0 (t2v R@1/5/10/MdR).
_base_ = [
    '../_base_/models/stan_retrieval_b32.py', '../_base_/datasets/msvd.py',
    '../_base_/schedules/adamw_cosine_retrieval.py'
]
