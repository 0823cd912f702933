"""Numbers for the trust & safety lead: what a candidate policy would have done."""
