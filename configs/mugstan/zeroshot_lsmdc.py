# Zero-shot Mug-STAN-B/32 (VideoTextRetriever after webvid_pretrain.py), test only, LSMDC; paper [M] Table I: 17.4 / 32.7 / 40.4 / 21.5.
_base_ = ['./lsmdc.py']
model = dict(clip=dict(pretrained=None))  # every weight comes from the tested checkpoint
