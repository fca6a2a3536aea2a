// Package web serves canonid's pages: today the login page the OpenID
// provider sends people to, with its CSRF protection, rate limits, login
// sessions and FR/EN messages.
package web
