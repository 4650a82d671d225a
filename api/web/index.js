// The first page this person may open.
import { PAGES, fill, h, start } from "/ui/common.js";

const me = await start("/ui/");
const first = PAGES.find((p) => p.roles.includes(me.role));
if (first) location.replace(first.href);
else fill("#where", h("span", {}, "您的账号没有可用的页面（采集工作站令牌只用于上传）。"));
