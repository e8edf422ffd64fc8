"""Local identity: a certificate authority and server certificates, so clients that insist on
https (azure-core sends bearer tokens over https only) can talk to Ferry offline."""
