# Zero-shot Mug-STAN-B/32 (VideoTextRetriever after webvid_pretrain.py), test only, DiDeMo; paper [M] Table I: 33.7 / 60.5 / 70.3 / 3.0.
_base_ = ['./didemo.py']
model = dict(clip=dict(pretrained=None))  # every weight comes from the tested checkpoint
