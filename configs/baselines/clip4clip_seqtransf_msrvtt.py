# CLIP4Clip-seqTransf-B/32 (VideoTextRetriever, CLIPMeanPool, SeqTransfHead: 4 layers from CLIP text layers 0-3, mean similarity), 12 frames, global batch 128 (8 GPUs x 16), MSR-VTT 9k / 1k-A; paper row: CLIP4Clip-seqTransf as quoted in [C2V] Table 3: 44.5 / 71.4 / 81.6 / 2.0 (t2v R@1/5/10/MdR).
_base_ = ['../_base_/models/meanpool_retrieval_b32.py', '../_base_/datasets/msrvtt.py']

model = dict(head=dict(_delete_=True, type='SeqTransfHead', num_layers=4,
                       similarity=dict(type='MeanPHead')))
