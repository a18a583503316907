# Zero-shot msrvtt retrieval ([M] Table I) with a post-pretrained Mug-STAN-B/32. Test only:
#   python tools/test.py configs/mugstan/zeroshot_msrvtt.py work_dirs/webvid_pretrain/epoch_3.pth
_base_ = ['./msrvtt.py']
model = dict(backbone=dict(pretrained=None), text_pretrained=None)  # all weights from the checkpoint
