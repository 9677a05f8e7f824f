/*
 * Certificate names and SNI matching.  The names a certificate is for
 * come from the certificate itself (subjectAltName dNSNames, else the
 * subject CN), so the configuration never repeats them.
 */
#include "tls/tls.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

static int
add_name(char ***names, unsigned *n, const unsigned char *s, int len)
{
	char **grown, *copy;
	int i;

	if (len <= 0 || len > 255)
		return 0; /* nothing a Host can match */
	if (!(copy = malloc((size_t)len + 1)))
		return -1;
	for (i = 0; i < len; i++)
		copy[i] = (char)tolower(s[i]);
	copy[len] = '\0';
	if (!(grown = realloc(*names, (*n + 1) * sizeof(*grown)))) {
		free(copy);
		return -1;
	}
	*names = grown;
	grown[(*n)++] = copy;
	return 0;
}

static int
san_names(X509 *x, char ***names, unsigned *n)
{
	GENERAL_NAMES *san =
	        X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int i, rc = 0;

	if (!san)
		return 0;
	for (i = 0; rc == 0 && i < sk_GENERAL_NAME_num(san); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);

		if (g->type == GEN_DNS)
			rc = add_name(names, n,
			              ASN1_STRING_get0_data(g->d.dNSName),
			              ASN1_STRING_length(g->d.dNSName));
	}
	GENERAL_NAMES_free(san);
	return rc;
}

int
tls_cert_names(X509 *x, char ***names, unsigned *n)
{
	X509_NAME *subject = X509_get_subject_name(x);
	X509_NAME_ENTRY *e;
	int at;

	*names = NULL;
	*n = 0;
	if (san_names(x, names, n) < 0)
		return -1;
	if (*n > 0 || !subject)
		return 0;
	at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
	if (at < 0 || !(e = X509_NAME_get_entry(subject, at)))
		return 0;
	return add_name(names, n,
	                ASN1_STRING_get0_data(X509_NAME_ENTRY_get_data(e)),
	                ASN1_STRING_length(X509_NAME_ENTRY_get_data(e)));
}

int
tls_name_matches(const char *pattern, const char *host)
{
	const char *dot;

	if (pattern[0] != '*')
		return strcmp(pattern, host) == 0;
	/* "*.example.com": exactly one label before ".example.com" */
	if (pattern[1] != '.' || !(dot = strchr(host, '.')) || dot == host)
		return 0;
	return strcmp(dot, pattern + 1) == 0;
}

static const struct tls_cert *
find(const struct tls_listener *l, const char *sni, int wildcards)
{
	unsigned i, j;

	for (i = 0; i < l->n_certs; i++)
		for (j = 0; j < l->certs[i].n_names; j++) {
			const char *p = l->certs[i].names[j];

			if ((p[0] == '*') == wildcards &&
			    tls_name_matches(p, sni))
				return &l->certs[i];
		}
	return NULL;
}

const struct tls_cert *
tls_cert_for(const struct tls_listener *l, const char *sni)
{
	char lower[256];
	const struct tls_cert *c;
	size_t i, len = sni ? strlen(sni) : 0;

	if (len == 0 || len >= sizeof(lower))
		return &l->certs[0];
	for (i = 0; i <= len; i++)
		lower[i] = (char)tolower((unsigned char)sni[i]);
	if ((c = find(l, lower, 0)) || (c = find(l, lower, 1)))
		return c;
	return &l->certs[0];
}
