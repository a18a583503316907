# CLIP2Video-B/32 (VideoTextRetriever, CLIPMeanPool, CLIP2VideoHead: TDB + 4-layer temporal transformer + TAB K=5, w=0.5), 12 frames, global batch 128 (8 GPUs x 16; the paper gives none), MSR-VTT 9k / 1k-A; paper [C2V] Table 3: 45.6 / 72.6 / 81.7 / 2.0 (t2v R@1/5/10/MdR).
_base_ = ['../_base_/models/meanpool_retrieval_b32.py', '../_base_/datasets/msrvtt.py']

model = dict(head=dict(_delete_=True, type='CLIP2VideoHead', num_layers=4, num_centers=5,
                       global_weight=0.5))  # w L_o^g + (1 - w) L_o^a, L_o = ½(L_t2v + L_v2t); same w at test
