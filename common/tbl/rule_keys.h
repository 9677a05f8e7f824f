/*
 * Every key of a [rule NAME] section in rules.ini, defined once.  Include
 * after defining RULE_KEY(key, repeat, list, help): repeat is 1 when the
 * key may be given on several lines (each adds to an any-of list); list
 * is 1 when its value is a comma-separated list, each item going to
 * set_<key>() (else the whole value does).  rules/load_rule.c dispatches;
 * the docs list these rows.
 */
RULE_KEY(src, 0, 1, "Client addresses: CIDRs, comma-separated")
RULE_KEY(dst, 0, 1, "Resolved destination addresses: CIDRs (checked after DNS)")
RULE_KEY(host, 0, 1,
         "Destination names: name, .suffix or @FILE, comma-separated")
RULE_KEY(sni, 0, 1,
         "TLS server names in CONNECT tunnels: name, .suffix or @FILE")
RULE_KEY(port, 0, 1, "Destination ports, comma-separated")
RULE_KEY(method, 0, 1, "Request methods, comma-separated (CONNECT for tunnels)")
RULE_KEY(scheme, 0, 1, "http (plain requests) and/or https (CONNECT tunnels)")
RULE_KEY(url, 1, 0, "A PCRE2 pattern on the absolute URL ((?i) ignores case)")
RULE_KEY(url_file, 1, 0, "@FILE of PCRE2 URL patterns, one per line")
RULE_KEY(header, 1, 0, "NAME: PATTERN on a request header's values")
RULE_KEY(time, 1, 0, "A weekly window: Mon-Fri 08:00-18:00 (rules time zone)")
RULE_KEY(req_body, 1, 0,
         "A PCRE2 pattern on request bodies (data-loss prevention)")
RULE_KEY(resp_body, 1, 0, "A PCRE2 pattern on response bodies")
RULE_KEY(content_type, 0, 1,
         "Media types body patterns apply to: text/, application/json")
RULE_KEY(user, 0, 1, "Authenticated proxy users, comma-separated")
RULE_KEY(action, 0, 0, "allow, deny, redirect or auth")
RULE_KEY(status, 0, 0, "deny: the status sent (400-599, default 403)")
RULE_KEY(message, 0, 0, "deny: a sentence for the block page")
RULE_KEY(location, 0, 0, "redirect: the URL sent in Location")
RULE_KEY(mode, 0, 0, "enforce (default) or monitor: count and log only")
#undef RULE_KEY
