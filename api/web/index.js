// The first page this person may open.
import { fill, firstPage, h, start } from "/ui/common.js";

await start("/ui/");
const first = firstPage();
if (first) location.replace(first);
else fill("#where", h("span", {}, "您的账号没有可用的页面（采集工作站令牌只用于上传）。"));
