// Debian's OpenSSL (libssl-dev), and the few of its macros Swift cannot call, as functions.
#ifndef QUAIL_OPENSSL_SHIM_H
#define QUAIL_OPENSSL_SHIM_H

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static inline int quail_ssl_ctx_set_min_tls12(SSL_CTX *ctx) {
    return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

// A write may return after part of the buffer, and be retried from another address (Swift arrays move).
static inline long quail_ssl_ctx_set_partial_writes(SSL_CTX *ctx) {
    return SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

static inline long quail_ssl_ctx_no_session_cache(SSL_CTX *ctx) {
    return SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}

static inline int quail_ssl_set_server_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

// No renegotiation (a client could make the server do a handshake's work again and again); the server's
// cipher order; no session tickets, which no later connection could use (no session is resumed).
static inline uint64_t quail_ssl_ctx_set_server_options(SSL_CTX *ctx) {
    SSL_CTX_set_num_tickets(ctx, 0);
    return SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
}

// A peer that closes without close_notify ends the stream instead of failing it (OpenSSL 3 calls it an
// error): SMTP and HTTP with a length have their own ends, and many servers never send close_notify.
static inline uint64_t quail_ssl_ctx_set_client_options(SSL_CTX *ctx) {
    return SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
}

// Trust anchors from PEM text in memory (control/tlsca.pem as quail-send read it); the number added, or -1.
static inline int quail_ssl_ctx_add_authorities(SSL_CTX *ctx, const void *pem, int length) {
    BIO *bio = BIO_new_mem_buf(pem, length);
    if (bio == NULL) return -1;
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    int added = 0;
    X509 *certificate;
    while ((certificate = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (X509_STORE_add_cert(store, certificate) == 1) added++;
        X509_free(certificate);
    }
    ERR_clear_error();  // the end of the text reads as an error
    BIO_free(bio);
    return added;
}

// A certificate, its chain and its private key from PEM text in memory (control/clientcert.pem); 1 on success.
static inline int quail_ssl_ctx_use_certificate_pem(SSL_CTX *ctx, const void *pem, int length) {
    BIO *bio = BIO_new_mem_buf(pem, length);
    if (bio == NULL) return 0;
    X509 *leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    int ok = leaf != NULL && SSL_CTX_use_certificate(ctx, leaf) == 1;
    X509_free(leaf);
    X509 *extra;
    while (ok && (extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) { X509_free(extra); ok = 0; }
    }
    ERR_clear_error();
    BIO_free(bio);
    if (!ok) return 0;
    bio = BIO_new_mem_buf(pem, length);
    if (bio == NULL) return 0;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    ok = key != NULL && SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
    EVP_PKEY_free(key);
    BIO_free(bio);
    return ok;
}

#endif
