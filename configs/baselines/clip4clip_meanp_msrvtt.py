# CLIP4Clip-meanP-B/32 (VideoTextRetriever, CLIPMeanPool, MeanPHead), 12 frames, global batch 128 (8 GPUs x 16), MSR-VTT 9k / 1k-A; paper row: CLIP4Clip-meanP as quoted in [C2V] Table 3: 43.1 / 70.4 / 80.8 / 2.0 (t2v R@1/5/10/MdR).
_base_ = ['../_base_/models/meanpool_retrieval_b32.py', '../_base_/datasets/msrvtt.py']
