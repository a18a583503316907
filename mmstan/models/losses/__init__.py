from .contrastive import gather_with_grad, symmetric_infonce

__all__ = ['gather_with_grad', 'symmetric_infonce']
