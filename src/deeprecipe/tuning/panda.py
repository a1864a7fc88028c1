"""placeholder"""
BabysitResult = babysit = nudge = resume = rollback = status = None
