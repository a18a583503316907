# Mug-STAN-B/32 (VideoTextRetriever, CLIPSTAN K=4, Mug head), 12 frames, global batch 128 (8 GPUs x 16), LSMDC; paper [M] Table II (values not in the paper text we have).
_base_ = [
    '../_base_/models/mugstan_retrieval_b32.py', '../_base_/datasets/lsmdc.py',
    '../_base_/schedules/adamw_cosine_retrieval.py'
]
