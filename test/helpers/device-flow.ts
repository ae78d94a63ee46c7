import { type FormBrowser, formFields, hiddenFields } from './browser-form-client.js';
import { cookieHeader } from './oauth-flow.js';

/**
 * A person at the portal's `/device` page (RFC 8628 §3.3), through the real pages: opens
 * `verificationUri` (with or without `?user_code=`), signs in when asked, enters `userCode`,
 * and answers the consent page. Resolves the last page (the "device connected"/"refused" page).
 */
export async function answerDeviceCode(
  browser: FormBrowser,
  verificationUri: string,
  userCode: string,
  person: { username: string; password: string },
  decision: 'allow' | 'deny' = 'allow',
): Promise<{ status: number; page: string }> {
  const consent = await enterUserCode(browser, verificationUri, userCode, person);
  if (!consent.page.includes('action="/consent"')) return consent;
  const res = await browser.follow(`${browser.origin}/consent`, { method: 'POST', fields: { ...formFields(consent.page), decision } });
  return { status: res.status, page: await res.text() };
}

/** Signs in when asked and submits `userCode` at `/device`; resolves the page it leads to (the consent page when the code is good). */
export async function enterUserCode(
  browser: FormBrowser,
  verificationUri: string,
  userCode: string,
  person: { username: string; password: string },
): Promise<{ status: number; page: string }> {
  let res = await browser.follow(verificationUri);
  let page = await res.text();
  if (page.includes('action="/login"')) {
    res = await browser.follow(`${browser.origin}/login`, {
      method: 'POST',
      fields: { ...hiddenFields(page), username: person.username, password: person.password },
    });
    page = await res.text();
  }
  if (!page.includes('action="/device"')) throw new Error(`expected the device code page, got ${res.status}: ${page.slice(0, 300)}`);
  res = await browser.follow(`${browser.origin}/device`, { method: 'POST', fields: { ...hiddenFields(page), user_code: userCode } });
  return { status: res.status, page: await res.text() };
}

/** Submits `userCode` at `/device` in `browser`'s session asking for JSON, so the refusal's `error` is readable. */
export async function postUserCodeAsJson(browser: FormBrowser, userCode: string): Promise<Response> {
  const form = await browser.get(`${browser.origin}/device`);
  const fields = hiddenFields(await form.text());
  return fetch(`${browser.origin}/device`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', cookie: cookieHeader(browser) },
    body: new URLSearchParams({ ...fields, user_code: userCode }).toString(),
  });
}
