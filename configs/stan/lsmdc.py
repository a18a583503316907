# STAN-self-B/32 (VideoTextRetriever, CLIPSTAN K=4, mean similarity), 12 frames, global batch 128 (8 GPUs x 16), LSMDC; paper [S] Table 3: 23.7 / 42.7 / 51.8 / 9.0 (t2v R@1/5/10/MdR).
_base_ = [
    '../_base_/models/stan_retrieval_b32.py', '../_base_/datasets/lsmdc.py',
    '../_base_/schedules/adamw_cosine_retrieval.py'
]
