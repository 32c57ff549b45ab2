"""Date formats for the admin: times with seconds and the time zone, as the portal shows them."""
