# STAN-self-B/32 (VideoTextRetriever, CLIPSTAN K=4, mean similarity), 12 frames, global batch 128 (8 GPUs x 16), MSR-VTT 9k / 1k-A; paper [S] Table 1: 46.9 / 72.8 / 82.8 / 2.0 (t2v R@1/5/10/MdR).
_base_ = [
    '../_base_/models/stan_retrieval_b32.py', '../_base_/datasets/msrvtt.py',
    '../_base_/schedules/adamw_cosine_retrieval.py'
]
