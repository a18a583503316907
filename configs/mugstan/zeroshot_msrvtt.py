# Zero-shot Mug-STAN-B/32 (VideoTextRetriever after webvid_pretrain.py), test only, MSR-VTT 1k-A; paper [M] Table I: 35.9 / 60.8 / 69.6 / 3.0.
_base_ = ['./msrvtt.py']
model = dict(clip=dict(pretrained=None))  # every weight comes from the tested checkpoint
