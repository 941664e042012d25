-- wrk: a new connection per request (the server closes after answering).
-- (wrk's -H only takes "Name: value" with a space, which shell word
-- splitting cannot pass through the scripts, hence this file.)
wrk.headers["Connection"] = "close"
