"""`rma bench` and `rma chaos`: the real stack driven hard (and injured), measured, then audited."""
