"""Cases, the review queue, strikes and appeals: one platform-free moderation service
(:mod:`bot.review.service`).

Nothing is imported here: the worker's commit uses the pure planning modules
(:mod:`bot.review.opening`, :mod:`bot.review.store`) without loading the service.
"""
