

svc